"""A FastAPI site that shows static and dynamic content side by side."""
