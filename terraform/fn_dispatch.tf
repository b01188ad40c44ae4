# The dispatch function (CloudEvent, pushed by Pub/Sub). Sends one
# accepted message to Meta and writes the outcome.

resource "google_service_account" "dispatch" {
  account_id   = "templategw-dispatch"
  display_name = "templategw dispatch function"
  description  = "Sends one accepted message to Meta and writes the outcome."
}

resource "google_project_iam_member" "dispatch_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.dispatch.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "dispatch_publishes_callbacks" {
  topic  = google_pubsub_topic.callbacks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.dispatch.member
}

resource "google_cloudfunctions2_function" "dispatch" {
  name        = "dispatch"
  location    = var.region
  description = "Sends one accepted message to Meta and writes the outcome."

  build_config {
    runtime         = var.runtime
    entry_point     = "dispatch"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.dispatch.email
    available_memory                 = local.limits.dispatch.memory
    available_cpu                    = local.limits.dispatch.cpu
    max_instance_request_concurrency = local.limits.dispatch.concurrency
    min_instance_count               = local.limits.dispatch.min_instances
    max_instance_count               = local.limits.dispatch.max_instances
    timeout_seconds                  = local.limits.dispatch.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env

    # Channel access tokens: a channel's secret reference env:NAME reads
    # the variable NAME, which Secret Manager fills here.
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.channel

      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value.secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(setintersection(keys(var.channel_secrets), keys(local.env))) == 0
      error_message = "A channel_secrets name is also a configuration variable of the functions."
    }
  }

  depends_on = [
    google_project_service.apis,
    # A revision starts only if its account can read its secrets.
    google_secret_manager_secret_iam_member.dispatch_reads_channel,
  ]
}

# The identity Pub/Sub pushes as: allowed to invoke this function and
# nothing else.
resource "google_service_account" "dispatch_push" {
  account_id   = "templategw-dispatch-push"
  display_name = "Pub/Sub push to the templategw dispatch function"
}

resource "google_cloud_run_service_iam_member" "dispatch_push_invokes" {
  location = google_cloudfunctions2_function.dispatch.location
  service  = google_cloudfunctions2_function.dispatch.name
  role     = "roles/run.invoker"
  member   = google_service_account.dispatch_push.member
}

# Pub/Sub's agent mints the push's OIDC tokens for that identity.
resource "google_service_account_iam_member" "dispatch_push_token" {
  service_account_id = google_service_account.dispatch_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Backoff spaces the redeliveries that retryable provider failures ask for
# (dispatch puts the message back to accepted and returns an error); the
# message itself counts attempts up to DISPATCH_MAX_ATTEMPTS. A job still
# failing after dispatch_max_deliveries pushes (Firestore or the function
# broken, not Meta) goes to dispatch-dead instead of looping for a week;
# its message stays accepted, which sweep republishes once things work.
resource "google_pubsub_subscription" "dispatch" {
  name  = "dispatch-push"
  topic = google_pubsub_topic.dispatch.id

  # Pub/Sub waits this long for the function's answer before it pushes
  # again: as long as the function may run.
  ack_deadline_seconds       = min(local.limits.dispatch.timeout_seconds, 600)
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dispatch_dead.id
    max_delivery_attempts = var.dispatch_max_deliveries
  }

  # A subscription nobody pulls from expires after 31 idle days by
  # default; a quiet month must not delete this one.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # The path names the topic: the Functions Framework reads it from
    # there when it turns the push into a CloudEvent.
    push_endpoint = "${google_cloudfunctions2_function.dispatch.service_config[0].uri}/${google_pubsub_topic.dispatch.id}"

    oidc_token {
      service_account_email = google_service_account.dispatch_push.email
      audience              = google_cloudfunctions2_function.dispatch.service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_service_iam_member.dispatch_push_invokes,
    google_service_account_iam_member.dispatch_push_token,
  ]
}

# Pub/Sub's agent acknowledges, on this subscription, what it moved to the
# dead-letter topic.
resource "google_pubsub_subscription_iam_member" "dispatch_dead_letter_ack" {
  subscription = google_pubsub_subscription.dispatch.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
