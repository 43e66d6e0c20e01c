// Starts Swagger UI on /docs from the vendored bundle. A file of its own, not an inline script,
// so the page's Content-Security-Policy allows scripts from this origin only.
'use strict';

(() => {
  const root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default would send the document's URL to a third-party validator and show its badge.
    validatorUrl: null,
    // Never load another document (or configuration) named in the address bar.
    queryConfigEnabled: false,
    withCredentials: false,
  });
})();
