# The cloudchat function (HTTP, public). CloudChat dialect (seed 002).

resource "google_service_account" "cloudchat" {
  account_id   = "templategw-cloudchat"
  display_name = "templategw cloudchat function"
  description  = "CloudChat dialect (seed 002)."
}

resource "google_project_iam_member" "cloudchat_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.cloudchat.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "cloudchat_publishes_dispatch" {
  topic  = google_pubsub_topic.dispatch.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.cloudchat.member
}

resource "google_cloudfunctions2_function" "cloudchat" {
  name        = "cloudchat"
  location    = var.region
  description = "CloudChat dialect (seed 002)."

  build_config {
    runtime         = var.runtime
    entry_point     = "cloudchat"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.cloudchat.email
    available_memory                 = local.limits.cloudchat.memory
    available_cpu                    = local.limits.cloudchat.cpu
    max_instance_request_concurrency = local.limits.cloudchat.concurrency
    min_instance_count               = local.limits.cloudchat.min_instances
    max_instance_count               = local.limits.cloudchat.max_instances
    timeout_seconds                  = local.limits.cloudchat.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own bearer tokens, which
# the function checks.
resource "google_cloud_run_service_iam_member" "cloudchat_public" {
  location = google_cloudfunctions2_function.cloudchat.location
  service  = google_cloudfunctions2_function.cloudchat.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
