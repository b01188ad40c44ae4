# Secrets are created empty: their values never pass through Terraform or
# its state. Add a version to each before the first apply of the functions
# that read them (README.md in this directory shows the commands); Cloud
# Run refuses to start a revision whose secret has no version.

resource "google_secret_manager_secret" "whatsapp_app_secret" {
  secret_id = var.whatsapp_app_secret_id

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "whatsapp_verify_token" {
  secret_id = var.whatsapp_verify_token_secret_id

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Signs the console's session cookies; only the console reads it.
resource "google_secret_manager_secret" "console_session_key" {
  secret_id = var.console_session_key_secret_id

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# One secret per channel access token, keyed by the environment variable
# dispatch reads it from (a channel's secret reference env:NAME).
resource "google_secret_manager_secret" "channel" {
  for_each = var.channel_secrets

  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Each secret is readable by the one function that needs it, and no other.

resource "google_secret_manager_secret_iam_member" "whatsapp_reads_app_secret" {
  secret_id = google_secret_manager_secret.whatsapp_app_secret.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.whatsapp.member
}

resource "google_secret_manager_secret_iam_member" "whatsapp_reads_verify_token" {
  secret_id = google_secret_manager_secret.whatsapp_verify_token.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.whatsapp.member
}

resource "google_secret_manager_secret_iam_member" "dispatch_reads_channel" {
  for_each = google_secret_manager_secret.channel

  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.dispatch.member
}

resource "google_secret_manager_secret_iam_member" "dispatchbulk_reads_channel" {
  for_each = google_secret_manager_secret.channel

  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.dispatchbulk.member
}

resource "google_secret_manager_secret_iam_member" "console_reads_session_key" {
  secret_id = google_secret_manager_secret.console_session_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.console.member
}

# The console's template sync calls Meta with the channel's token.
resource "google_secret_manager_secret_iam_member" "console_reads_channel" {
  for_each = google_secret_manager_secret.channel

  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.console.member
}
