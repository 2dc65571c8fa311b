"""How notifications leave the server: email through SMTP, and webhooks as MLflow sends them."""
