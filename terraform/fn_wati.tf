# The wati function (HTTP, public). Wati dialect (seed 004), single and
# bulk sends.

resource "google_service_account" "wati" {
  account_id   = "templategw-wati"
  display_name = "templategw wati function"
  description  = "Wati dialect (seed 004), single and bulk sends."
}

resource "google_project_iam_member" "wati_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.wati.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "wati_publishes_dispatch" {
  topic  = google_pubsub_topic.dispatch.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.wati.member
}

resource "google_pubsub_topic_iam_member" "wati_publishes_fanout" {
  topic  = google_pubsub_topic.fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.wati.member
}

resource "google_cloudfunctions2_function" "wati" {
  name        = "wati"
  location    = var.region
  description = "Wati dialect (seed 004), single and bulk sends."

  build_config {
    runtime         = var.runtime
    entry_point     = "wati"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.wati.email
    available_memory                 = local.limits.wati.memory
    available_cpu                    = local.limits.wati.cpu
    max_instance_request_concurrency = local.limits.wati.concurrency
    min_instance_count               = local.limits.wati.min_instances
    max_instance_count               = local.limits.wati.max_instances
    timeout_seconds                  = local.limits.wati.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own bearer tokens, which
# the function checks.
resource "google_cloud_run_service_iam_member" "wati_public" {
  location = google_cloudfunctions2_function.wati.location
  service  = google_cloudfunctions2_function.wati.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
