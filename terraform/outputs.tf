output "urls" {
  description = "Public URL of each HTTP function; clients append the paths of docs/api.md and the dialect docs."
  value = {
    templates = google_cloudfunctions2_function.templates.url
    messages  = google_cloudfunctions2_function.messages.url
    batches   = google_cloudfunctions2_function.batches.url
    cloudchat = google_cloudfunctions2_function.cloudchat.url
    emkt      = google_cloudfunctions2_function.emkt.url
    wati      = google_cloudfunctions2_function.wati.url
    whatsapp  = google_cloudfunctions2_function.whatsapp.url
    # With the trailing slash: the console links relative to it.
    console = "${google_cloudfunctions2_function.console.url}/"
  }
}

output "whatsapp_webhook_url" {
  description = "Callback URL to paste in Meta's dashboard (WhatsApp > Configuration > Webhook), with the verify token stored in the verify-token secret."
  value       = google_cloudfunctions2_function.whatsapp.url
}

output "service_accounts" {
  description = "Service account of each function."
  value = {
    templates    = google_service_account.templates.email
    messages     = google_service_account.messages.email
    batches      = google_service_account.batches.email
    cloudchat    = google_service_account.cloudchat.email
    emkt         = google_service_account.emkt.email
    wati         = google_service_account.wati.email
    whatsapp     = google_service_account.whatsapp.email
    console      = google_service_account.console.email
    dispatch     = google_service_account.dispatch.email
    dispatchbulk = google_service_account.dispatchbulk.email
    fanout       = google_service_account.fanout.email
    sweep        = google_service_account.sweep.email
    callbacks    = google_service_account.callbacks.email
  }
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions that keep what Pub/Sub gave up pushing, by source topic."
  value       = { for name, s in google_pubsub_subscription.dead_keep : name => s.name }
}

output "secrets" {
  description = "Secret Manager secrets to give a version (gcloud secrets versions add ID --data-file=-), by the environment variable they fill."
  value = merge(
    {
      WHATSAPP_APP_SECRET   = google_secret_manager_secret.whatsapp_app_secret.secret_id
      WHATSAPP_VERIFY_TOKEN = google_secret_manager_secret.whatsapp_verify_token.secret_id
      CONSOLE_SESSION_KEY   = google_secret_manager_secret.console_session_key.secret_id
    },
    { for env, s in google_secret_manager_secret.channel : env => s.secret_id },
  )
}
