// The interactive API docs, served from this server (no CDN on the origin where the token lives).
window.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
