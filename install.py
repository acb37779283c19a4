# -*- coding: utf-8 -*-
# Install the site into .venv/, on Linux, macOS and Windows alike:
#
#     python3 install.py          (Windows: py install.py; macOS with brew's python@3.13: python3.13 install.py)
#     python3 install.py --dev    the tests' and tools' packages too
#
# It checks the Python version first, in one sentence, before anything is made.
# Written to run on any Python, old ones included, so that it can say so.
import os
import shutil
import subprocess
import sys

OLDEST = (3, 11)
TESTED = ((3, 11), (3, 12), (3, 13))
ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
WINDOWS = os.name == "nt"


def say(korean, english):
    sys.stdout.write(korean + "\n" + english + "\n")
    sys.stdout.flush()


def venv_program(name):
    folder = "Scripts" if WINDOWS else "bin"
    return os.path.join(VENV, folder, name + (".exe" if WINDOWS else ""))


def shown(name):
    # The command as the reader types it from the checkout, for this system.
    return ".venv\\Scripts\\" + name if WINDOWS else ".venv/bin/" + name


def too_old(found):
    # Given the version found ("3.9"), return what to say in Korean and in English: how to install
    # a newer one on each system and the command that runs it. On macOS, brew's python@3.13 is
    # python3.13 and python3 often stays Apple's 3.9, so "run this again" alone would loop.
    return (
        "지금 실행한 파이썬은 %s 버전입니다. 이 사이트에는 3.11 이상이 필요합니다. "
        "macOS는 brew install python@3.13으로 설치하고 python3.13 install.py로, "
        "Windows는 winget install Python.Python.3.13으로 설치하고 py install.py로, "
        "Debian과 Ubuntu는 sudo apt install python3 python3-venv로 설치하고 python3 install.py로"
        "(Ubuntu 22.04는 sudo apt install python3.11 python3.11-venv로 설치하고 python3.11 install.py로) "
        "다시 실행해 주세요. python.org에서 내려받아 설치할 수도 있습니다." % found,
        "This is Python %s; the site needs 3.11 or newer. Install one and run this again with it: "
        "macOS: brew install python@3.13, then python3.13 install.py; "
        "Windows: winget install Python.Python.3.13, then py install.py; "
        "Debian and Ubuntu: sudo apt install python3 python3-venv, then python3 install.py "
        "(Ubuntu 22.04: sudo apt install python3.11 python3.11-venv, then python3.11 install.py). "
        "python.org has installers too." % found,
    )


def main(arguments):
    version = tuple(sys.version_info[:2])
    found = "%d.%d" % version
    if version < OLDEST:
        say(*too_old(found))
        return 1
    if version not in TESTED:
        say(
            "파이썬 %s에서는 테스트하지 않았습니다(테스트한 버전: 3.11, 3.12, 3.13). 설치를 계속합니다." % found,
            "Python %s is not tested here (3.11, 3.12 and 3.13 are); installing anyway." % found,
        )
    import venv  # only after the check: Python 2 has no venv

    requirements = "requirements-dev.txt" if "--dev" in arguments else "requirements.txt"
    if not os.path.exists(venv_program("python")):
        say("가상 환경을 만듭니다: .venv", "Making the virtual environment: .venv")
        try:
            venv.create(VENV, with_pip=True)
        except Exception as error:  # Debian and Ubuntu ship venv's pip separately
            shutil.rmtree(VENV, ignore_errors=True)
            say(
                "가상 환경을 만들지 못했습니다(%s). Debian과 Ubuntu에서는 sudo apt install python3-venv로 "
                "venv를 설치한 뒤 이 명령어를 다시 실행해 주세요." % error,
                "Could not make the virtual environment (%s). On Debian and Ubuntu, run "
                "sudo apt install python3-venv, then run this again." % error,
            )
            return 1
    say(
        "패키지를 설치합니다: %s (10초에서 1분쯤 걸립니다)" % requirements,
        "Installing the packages: %s (10 seconds to a minute)" % requirements,
    )
    command = [venv_program("python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["-r", requirements]
    if subprocess.call(command, cwd=ROOT) != 0:
        say(
            "설치하지 못했습니다. 위의 pip 메시지를 확인해 주세요. 다시 실행하면 이어서 설치합니다.",
            "The install failed: see pip's message above. Running this again continues where it stopped.",
        )
        return 1
    run = shown("uvicorn") + " webapp.main:app --reload --reload-dir webapp"
    say(
        "설치를 마쳤습니다. 서버를 켜려면 다음 명령어를 실행해 주세요: " + run,
        "Installed. To start the server: " + run,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
