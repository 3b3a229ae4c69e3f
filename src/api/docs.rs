//! `GET /docs`: an interactive reference of `openapi.yaml` (Swagger UI), with every asset inside
//! the binary, so that it works on a network with no internet.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::{Error, Result};

const BUNDLE: &[u8] = include_bytes!("docs/swagger-ui-bundle.js");
const STYLESHEET: &[u8] = include_bytes!("docs/swagger-ui.css");

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>party-records API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="reference"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.yaml",
      dom_id: "#reference",
      deepLinking: true,
      docExpansion: "list",
      persistAuthorization: false
    });
  </script>
</body>
</html>
"##;

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

/// The page's script and stylesheet.
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse> {
    let (content_type, body) = match path.as_str() {
        "swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", BUNDLE),
        "swagger-ui.css" => ("text/css; charset=utf-8", STYLESHEET),
        other => return Err(Error::not_found(format!("There is no asset {other}."))),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(body))
}
