// The API documentation page (/api/docs): Swagger UI over the app's own
// OpenAPI document. A file, not an inline script: the CSP allows 'self' only.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Requests from "Try it out" go to this site only, with the token typed
    // into "Authorize" (kept in this page, never stored).
    persistAuthorization: false,
    validatorUrl: null,
  });
});
