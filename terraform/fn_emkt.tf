# The emkt function (HTTP, public). Hi Platform emkt XML dialect (seed
# 003), bulk sends included.

resource "google_service_account" "emkt" {
  account_id   = "templategw-emkt"
  display_name = "templategw emkt function"
  description  = "Hi Platform emkt XML dialect (seed 003), bulk sends included."
}

resource "google_project_iam_member" "emkt_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.emkt.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "emkt_publishes_fanout" {
  topic  = google_pubsub_topic.fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.emkt.member
}

resource "google_cloudfunctions2_function" "emkt" {
  name        = "emkt"
  location    = var.region
  description = "Hi Platform emkt XML dialect (seed 003), bulk sends included."

  build_config {
    runtime         = var.runtime
    entry_point     = "emkt"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.emkt.email
    available_memory                 = local.limits.emkt.memory
    available_cpu                    = local.limits.emkt.cpu
    max_instance_request_concurrency = local.limits.emkt.concurrency
    min_instance_count               = local.limits.emkt.min_instances
    max_instance_count               = local.limits.emkt.max_instances
    timeout_seconds                  = local.limits.emkt.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own tokens, which the
# function checks.
resource "google_cloud_run_service_iam_member" "emkt_public" {
  location = google_cloudfunctions2_function.emkt.location
  service  = google_cloudfunctions2_function.emkt.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
