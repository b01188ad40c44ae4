# The whatsapp function (HTTP, public). Meta's webhook: verification
# handshake, signed statuses and inbound messages.

resource "google_service_account" "whatsapp" {
  account_id   = "templategw-whatsapp"
  display_name = "templategw whatsapp function"
  description  = "Meta's webhook: verification handshake, signed statuses and inbound messages."
}

resource "google_project_iam_member" "whatsapp_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.whatsapp.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "whatsapp_publishes_callbacks" {
  topic  = google_pubsub_topic.callbacks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.whatsapp.member
}

resource "google_cloudfunctions2_function" "whatsapp" {
  name        = "whatsapp"
  location    = var.region
  description = "Meta's webhook: verification handshake, signed statuses and inbound messages."

  build_config {
    runtime         = var.runtime
    entry_point     = "whatsapp"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.whatsapp.email
    available_memory                 = local.limits.whatsapp.memory
    available_cpu                    = local.limits.whatsapp.cpu
    max_instance_request_concurrency = local.limits.whatsapp.concurrency
    min_instance_count               = local.limits.whatsapp.min_instances
    max_instance_count               = local.limits.whatsapp.max_instances
    timeout_seconds                  = local.limits.whatsapp.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env_whatsapp

    secret_environment_variables {
      key        = "WHATSAPP_APP_SECRET"
      project_id = var.project
      secret     = google_secret_manager_secret.whatsapp_app_secret.secret_id
      version    = "latest"
    }

    secret_environment_variables {
      key        = "WHATSAPP_VERIFY_TOKEN"
      project_id = var.project
      secret     = google_secret_manager_secret.whatsapp_verify_token.secret_id
      version    = "latest"
    }
  }

  depends_on = [
    google_project_service.apis,
    # A revision starts only if its account can read its secrets.
    google_secret_manager_secret_iam_member.whatsapp_reads_app_secret,
    google_secret_manager_secret_iam_member.whatsapp_reads_verify_token,
  ]
}

# Public: Meta calls it, and the function refuses a POST without Meta's
# X-Hub-Signature-256.
resource "google_cloud_run_service_iam_member" "whatsapp_public" {
  location = google_cloudfunctions2_function.whatsapp.location
  service  = google_cloudfunctions2_function.whatsapp.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
