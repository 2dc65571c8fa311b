// Starts Swagger UI on the API documentation page (a file, so that the page needs no inline
// script under its Content Security Policy).
window.addEventListener("DOMContentLoaded", function () {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
