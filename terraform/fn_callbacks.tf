# The callbacks function (CloudEvent, pushed by Pub/Sub). Delivers one
# signed status callback to a tenant's URL.

resource "google_service_account" "callbacks" {
  account_id   = "templategw-callbacks"
  display_name = "templategw callbacks function"
  description  = "Delivers one signed status callback to a tenant's URL."
}

# It reads a tenant's callback secret and writes nothing: read-only.
resource "google_project_iam_member" "callbacks_firestore" {
  project = var.project
  role    = "roles/datastore.viewer"
  member  = google_service_account.callbacks.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_cloudfunctions2_function" "callbacks" {
  name        = "callbacks"
  location    = var.region
  description = "Delivers one signed status callback to a tenant's URL."

  build_config {
    runtime         = var.runtime
    entry_point     = "callbacks"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.callbacks.email
    available_memory                 = local.limits.callbacks.memory
    available_cpu                    = local.limits.callbacks.cpu
    max_instance_request_concurrency = local.limits.callbacks.concurrency
    min_instance_count               = local.limits.callbacks.min_instances
    max_instance_count               = local.limits.callbacks.max_instances
    timeout_seconds                  = local.limits.callbacks.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# The identity Pub/Sub pushes as: allowed to invoke this function and
# nothing else.
resource "google_service_account" "callbacks_push" {
  account_id   = "templategw-callbacks-push"
  display_name = "Pub/Sub push to the templategw callbacks function"
}

resource "google_cloud_run_service_iam_member" "callbacks_push_invokes" {
  location = google_cloudfunctions2_function.callbacks.location
  service  = google_cloudfunctions2_function.callbacks.name
  role     = "roles/run.invoker"
  member   = google_service_account.callbacks_push.member
}

# Pub/Sub's agent mints the push's OIDC tokens for that identity.
resource "google_service_account_iam_member" "callbacks_push_token" {
  service_account_id = google_service_account.callbacks_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# The delivery contract of docs/callbacks.md: backoff from 10 s to 600 s,
# and after CALLBACK_MAX_ATTEMPTS pushes the job moves to callbacks-dead,
# where callbacks-dead-keep holds it for an operator.
resource "google_pubsub_subscription" "callbacks" {
  name  = "callbacks-push"
  topic = google_pubsub_topic.callbacks.id

  # Pub/Sub waits this long for the function's answer before it pushes
  # again: as long as the function may run.
  ack_deadline_seconds       = min(local.limits.callbacks.timeout_seconds, 600)
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.callbacks_dead.id
    max_delivery_attempts = var.callback_max_attempts
  }

  # A subscription nobody pulls from expires after 31 idle days by
  # default; a quiet month must not delete this one.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # The path names the topic: the Functions Framework reads it from
    # there when it turns the push into a CloudEvent.
    push_endpoint = "${google_cloudfunctions2_function.callbacks.service_config[0].uri}/${google_pubsub_topic.callbacks.id}"

    oidc_token {
      service_account_email = google_service_account.callbacks_push.email
      audience              = google_cloudfunctions2_function.callbacks.service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_service_iam_member.callbacks_push_invokes,
    google_service_account_iam_member.callbacks_push_token,
  ]
}

# Pub/Sub's agent acknowledges, on this subscription, what it moved to the
# dead-letter topic.
resource "google_pubsub_subscription_iam_member" "callbacks_dead_letter_ack" {
  subscription = google_pubsub_subscription.callbacks.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
