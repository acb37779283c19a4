// Starts Swagger UI on /docs. A file, not an inline script, so the page's
// Content Security Policy can refuse every script that is not the site's own.
"use strict";

window.addEventListener("load", () => {
  const element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // the online validator would be a request to another site
  });
});
