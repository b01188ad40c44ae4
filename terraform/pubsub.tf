# Topics. Each CloudEvent function is fed by a push subscription declared
# in its own fn_*.tf file, not by an Eventarc trigger, because:
#
#  - Eventarc creates and owns the subscription under its trigger: its
#    ack deadline, retry backoff and dead-letter policy cannot be set. The
#    callbacks contract (docs/callbacks.md) promises backoff from 10 s to
#    600 s and a dead letter to callbacks-dead after CALLBACK_MAX_ATTEMPTS
#    deliveries, which only a subscription of our own can keep; dispatch
#    and fanout want the same control (an ack deadline that covers their
#    lease, a bounded number of redeliveries).
#  - The dev stack (internal/devstack) feeds the functions the same way:
#    a push to ".../projects/P/topics/T", which the Functions Framework
#    turns into the google.cloud.pubsub.topic.v1.messagePublished
#    CloudEvent the functions handle (funcframework's legacy push
#    conversion reads the topic from that path). The cloud and the tests
#    exercise one delivery path.
#
# The push carries an OIDC token of a per-function push account, the only
# account besides the function's own allowed to invoke it.

resource "google_pubsub_topic" "dispatch" {
  name       = "dispatch"
  depends_on = [google_project_service.apis]
}

# Broadcasts' dispatch jobs, pushed to dispatchbulk: on the dispatch
# topic they would queue a single send behind a whole broadcast.
resource "google_pubsub_topic" "dispatch_bulk" {
  name       = "dispatch-bulk"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "fanout" {
  name       = "fanout"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "callbacks" {
  name       = "callbacks"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "sweep" {
  name       = "sweep"
  depends_on = [google_project_service.apis]
}

# Dead letters. Pub/Sub moves a message here after a subscription's last
# delivery attempt; a topic keeps nothing without a subscription, so each
# has a pull subscription an operator reads (and republishes from) later.

resource "google_pubsub_topic" "callbacks_dead" {
  name       = "callbacks-dead"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dispatch_dead" {
  name       = "dispatch-dead"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "fanout_dead" {
  name       = "fanout-dead"
  depends_on = [google_project_service.apis]
}

locals {
  dead_letter_topics = {
    callbacks = google_pubsub_topic.callbacks_dead
    dispatch  = google_pubsub_topic.dispatch_dead
    fanout    = google_pubsub_topic.fanout_dead
  }
}

resource "google_pubsub_subscription" "dead_keep" {
  for_each = local.dead_letter_topics

  name                       = "${each.value.name}-keep"
  topic                      = each.value.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's own service agent moves messages to a dead-letter topic: it
# must be allowed to publish there (and, per subscription, to acknowledge
# what it moved; see each fn_*.tf).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics

  topic  = each.value.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}
