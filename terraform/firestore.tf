# Firestore in native mode, its composite indexes and its single-field
# index overrides. internal/indexes checks, at the end of every test
# package that runs on the emulator, that the queries the tests sent are
# served by what this file declares: the emulator itself never asks for
# an index. Layout and costs: docs/data.md.

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  concurrency_mode            = "OPTIMISTIC"
  app_engine_integration_mode = "DISABLED"
  delete_protection_state     = var.firestore_delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # Destroying this configuration leaves the data where it is.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Composite indexes. Those ordered newest first name __name__ DESCENDING,
# as the queries do to page by (createdAt, id); the others leave it to
# Firestore, which orders it like the last field.

# GET /messages?phone= (store.Messages): newest first, paged by (createdAt, id).
resource "google_firestore_index" "messages_phone_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# GET /messages?status=
resource "google_firestore_index" "messages_status_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# GET /messages?phone=&status=
resource "google_firestore_index" "messages_phone_status_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The console's message search (store.Messages) by template, alone and
# with the phone and the state; newest first, paged by (createdAt, id).
resource "google_firestore_index" "messages_template_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "templateId"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The console: template and state.
resource "google_firestore_index" "messages_template_status_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "templateId"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The console: phone and template.
resource "google_firestore_index" "messages_phone_template_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }

  fields {
    field_path = "templateId"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The console: phone, state and template.
resource "google_firestore_index" "messages_phone_status_template_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "templateId"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# The console's overview (store.CountMessages): this month's failures
# with one of Meta's codes.
resource "google_firestore_index" "messages_status_error_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "error.code"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# Wati's chat (store.Chat): what was sent to a contact on a channel.
resource "google_firestore_index" "messages_phone_channel_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phoneNumber"
    order      = "ASCENDING"
  }

  fields {
    field_path = "channel"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# Wati's chat (store.Chat): what a contact sent on a channel.
resource "google_firestore_index" "inbound_phone_channel_at" {
  database   = google_firestore_database.default.name
  collection = "inbound"

  fields {
    field_path = "phone"
    order      = "ASCENDING"
  }

  fields {
    field_path = "channel"
    order      = "ASCENDING"
  }

  fields {
    field_path = "at"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# sweep (store.StaleAccepted): single sends (batch "") accepted long ago
# and never dispatched; and a running broadcast's (store.BatchMessageIDs
# with a time), whose jobs only its own sweep republishes.
resource "google_firestore_index" "messages_status_batch_updated" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "batch"
    order      = "ASCENDING"
  }

  fields {
    field_path = "updatedAt"
    order      = "ASCENDING"
  }
}

# A broadcast's messages in a state (store.CountBatchMessages, one count
# per state; store.BatchMessageIDs without a time): one key range per
# state, so a count reads only its own index entries.
resource "google_firestore_index" "messages_batch_status" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "batch"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
}

# sweep: messages in one state, untouched since a time.
resource "google_firestore_index" "messages_status_updated" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "updatedAt"
    order      = "ASCENDING"
  }
}

# sweep (store.ExpiredLeases): dispatching past the lease.
resource "google_firestore_index" "messages_status_lease" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "leaseUntil"
    order      = "ASCENDING"
  }
}

# channel connect (store.ReleaseHeld): a channel's held messages, oldest
# first.
resource "google_firestore_index" "messages_channel_status_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "channel"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "ASCENDING"
  }
}

# sweep (store.DueUnknown): unknown messages whose wait for Meta's webhook
# is over.
resource "google_firestore_index" "messages_status_reconcile" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "reconcileUntil"
    order      = "ASCENDING"
  }
}

# sweep (store.DueBatches): scheduled broadcasts whose time came.
resource "google_firestore_index" "batches_state_sendAt" {
  database   = google_firestore_database.default.name
  collection = "batches"

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "sendAt"
    order      = "ASCENDING"
  }
}

# sweep (store.OpenBatches): bulk sends still open, oldest first.
resource "google_firestore_index" "batches_open_created" {
  database   = google_firestore_database.default.name
  collection = "batches"

  fields {
    field_path = "open"
    order      = "ASCENDING"
  }

  fields {
    field_path = "createdAt"
    order      = "ASCENDING"
  }
}

# Single-field overrides. Document ids are random, but a field that grows
# steadily (a timestamp) keeps its index entries in one key range, which
# caps the collection near 500 writes/s; and every indexed field of a
# large map or blob costs index writes no query uses. Such fields are
# exempted (an empty index_config) unless a query needs their
# single-field index. Short-lived documents also expire by a TTL policy on
# expireAt.

# GET /messages without a filter orders by createdAt descending alone, so
# that index stays; the filtered listings use composite indexes.
resource "google_firestore_field" "messages_createdAt" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "createdAt"

  index_config {
    indexes {
      order = "DESCENDING"
    }
  }
}

# Only (status, updatedAt) reads it.
resource "google_firestore_field" "messages_updatedAt" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "updatedAt"

  index_config {}
}

# Only (status, leaseUntil) reads it.
resource "google_firestore_field" "messages_leaseUntil" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "leaseUntil"

  index_config {}
}

# Only (status, reconcileUntil) reads it.
resource "google_firestore_field" "messages_reconcileUntil" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "reconcileUntil"

  index_config {}
}

# Large values never queried: the history, the rendered template.
resource "google_firestore_field" "messages_history" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "history"

  index_config {}
}

resource "google_firestore_field" "messages_template" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "template"

  index_config {}
}

# Contacts are read by id only.
resource "google_firestore_field" "contacts_updatedAt" {
  database   = google_firestore_database.default.name
  collection = "contacts"
  field      = "updatedAt"

  index_config {}
}

# Only (phone, channel, at) reads it.
resource "google_firestore_field" "inbound_at" {
  database   = google_firestore_database.default.name
  collection = "inbound"
  field      = "at"

  index_config {}
}

# GET /batches lists a tenant's broadcasts newest first (store.Batches):
# only the descending index stays. One batch is written per bulk send,
# far from the rate at which a steadily growing field's index hot-spots.
resource "google_firestore_field" "batches_createdAt" {
  database   = google_firestore_database.default.name
  collection = "batches"
  field      = "createdAt"

  index_config {
    indexes {
      order = "DESCENDING"
    }
  }
}

# The template a bulk send validated, kept whole for its chunks.
resource "google_firestore_field" "batches_template" {
  database   = google_firestore_database.default.name
  collection = "batches"
  field      = "template"

  index_config {}
}

# Up to a megabyte of JSON per chunk.
resource "google_firestore_field" "chunks_recipients" {
  database   = google_firestore_database.default.name
  collection = "chunks"
  field      = "recipients"

  index_config {}
}

# Read by id (the code) only.
resource "google_firestore_field" "batchCodes_createdAt" {
  database   = google_firestore_database.default.name
  collection = "batchCodes"
  field      = "createdAt"

  index_config {}
}

# The first answer, kept to repeat it.
resource "google_firestore_field" "idempotency_body" {
  database   = google_firestore_database.default.name
  collection = "idempotency"
  field      = "body"

  index_config {}
}

# A dead letter's job (store.DeadLetter): JSON bytes replayed as they
# are, never queried. The console lists dead letters by at descending
# alone, which at's automatic single-field index serves.
resource "google_firestore_field" "deadletters_job" {
  database   = google_firestore_database.default.name
  collection = "deadletters"
  field      = "job"

  index_config {}
}

# TTL policies; expireAt is never queried, so it is not indexed either.

# Idempotency-Key records: 24 h.
resource "google_firestore_field" "idempotency_expireAt" {
  database   = google_firestore_database.default.name
  collection = "idempotency"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# Messages and inbound messages: the tenant's
# retention (domain.Tenant.RetentionDays, default 90 days); a tenant that
# keeps them writes no expireAt, which TTL leaves alone.
resource "google_firestore_field" "messages_expireAt" {
  database   = google_firestore_database.default.name
  collection = "messages"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "inbound_expireAt" {
  database   = google_firestore_database.default.name
  collection = "inbound"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# Dead letters (tenants/{t}/deadletters/{eventId}, the callbacks a
# tenant's console lists and replays): the tenant's retention, as its
# messages.
resource "google_firestore_field" "deadletters_expireAt" {
  database   = google_firestore_database.default.name
  collection = "deadletters"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# Bulk sends, their chunks and their codes.
resource "google_firestore_field" "batches_expireAt" {
  database   = google_firestore_database.default.name
  collection = "batches"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "chunks_expireAt" {
  database   = google_firestore_database.default.name
  collection = "chunks"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "batchCodes_expireAt" {
  database   = google_firestore_database.default.name
  collection = "batchCodes"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# Console sessions (store.Session): read by id only; ended by sign-out,
# else deleted some time after their idle expiry.
resource "google_firestore_field" "sessions_expireAt" {
  database   = google_firestore_database.default.name
  collection = "sessions"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# Pacing leases (tenants/{t}/pacing/{channel}/leases/{instance},
# docs/pacing.md): a holder that dies leaves its lease, which the others
# delete when they next claim; one of a channel nobody sends through any
# more goes an hour after its expiry.
resource "google_firestore_field" "leases_expireAt" {
  database   = google_firestore_database.default.name
  collection = "leases"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}
