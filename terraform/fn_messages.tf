# The messages function (HTTP, public). Native API: status and history of
# sends.

resource "google_service_account" "messages" {
  account_id   = "templategw-messages"
  display_name = "templategw messages function"
  description  = "Native API: status and history of sends."
}

resource "google_project_iam_member" "messages_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.messages.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_cloudfunctions2_function" "messages" {
  name        = "messages"
  location    = var.region
  description = "Native API: status and history of sends."

  build_config {
    runtime         = var.runtime
    entry_point     = "messages"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.messages.email
    available_memory                 = local.limits.messages.memory
    available_cpu                    = local.limits.messages.cpu
    max_instance_request_concurrency = local.limits.messages.concurrency
    min_instance_count               = local.limits.messages.min_instances
    max_instance_count               = local.limits.messages.max_instances
    timeout_seconds                  = local.limits.messages.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own bearer tokens, which
# the function checks.
resource "google_cloud_run_service_iam_member" "messages_public" {
  location = google_cloudfunctions2_function.messages.location
  service  = google_cloudfunctions2_function.messages.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
