# The fanout function (CloudEvent, pushed by Pub/Sub). Turns one chunk of
# a bulk send into messages and their dispatch jobs.

resource "google_service_account" "fanout" {
  account_id   = "templategw-fanout"
  display_name = "templategw fanout function"
  description  = "Turns one chunk of a bulk send into messages and their dispatch jobs."
}

resource "google_project_iam_member" "fanout_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.fanout.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "fanout_publishes_dispatch_bulk" {
  topic  = google_pubsub_topic.dispatch_bulk.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.fanout.member
}

resource "google_cloudfunctions2_function" "fanout" {
  name        = "fanout"
  location    = var.region
  description = "Turns one chunk of a bulk send into messages and their dispatch jobs."

  build_config {
    runtime         = var.runtime
    entry_point     = "fanout"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.fanout.email
    available_memory                 = local.limits.fanout.memory
    available_cpu                    = local.limits.fanout.cpu
    max_instance_request_concurrency = local.limits.fanout.concurrency
    min_instance_count               = local.limits.fanout.min_instances
    max_instance_count               = local.limits.fanout.max_instances
    timeout_seconds                  = local.limits.fanout.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# The identity Pub/Sub pushes as: allowed to invoke this function and
# nothing else.
resource "google_service_account" "fanout_push" {
  account_id   = "templategw-fanout-push"
  display_name = "Pub/Sub push to the templategw fanout function"
}

resource "google_cloud_run_service_iam_member" "fanout_push_invokes" {
  location = google_cloudfunctions2_function.fanout.location
  service  = google_cloudfunctions2_function.fanout.name
  role     = "roles/run.invoker"
  member   = google_service_account.fanout_push.member
}

# Pub/Sub's agent mints the push's OIDC tokens for that identity.
resource "google_service_account_iam_member" "fanout_push_token" {
  service_account_id = google_service_account.fanout_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# A chunk that keeps failing goes to fanout-dead after
# fanout_max_deliveries pushes; its batch stays open, and sweep publishes
# the undone chunks of open batches again.
resource "google_pubsub_subscription" "fanout" {
  name  = "fanout-push"
  topic = google_pubsub_topic.fanout.id

  # Pub/Sub waits this long for the function's answer before it pushes
  # again: as long as the function may run.
  ack_deadline_seconds       = min(local.limits.fanout.timeout_seconds, 600)
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.fanout_dead.id
    max_delivery_attempts = var.fanout_max_deliveries
  }

  # A subscription nobody pulls from expires after 31 idle days by
  # default; a quiet month must not delete this one.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # The path names the topic: the Functions Framework reads it from
    # there when it turns the push into a CloudEvent.
    push_endpoint = "${google_cloudfunctions2_function.fanout.service_config[0].uri}/${google_pubsub_topic.fanout.id}"

    oidc_token {
      service_account_email = google_service_account.fanout_push.email
      audience              = google_cloudfunctions2_function.fanout.service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_service_iam_member.fanout_push_invokes,
    google_service_account_iam_member.fanout_push_token,
  ]
}

# Pub/Sub's agent acknowledges, on this subscription, what it moved to the
# dead-letter topic.
resource "google_pubsub_subscription_iam_member" "fanout_dead_letter_ack" {
  subscription = google_pubsub_subscription.fanout.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
