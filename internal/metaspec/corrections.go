package metaspec

import (
	"fmt"
	"slices"
	"strings"
)

// A correction changes one rule of the published description: either the
// description is wrong about Meta's API as it was at v23.0, or Graph API
// v24.0, the gateway's default, changed the shape since. Everything else
// is checked as published.
type correction struct {
	name  string
	apply func(schemas map[string]any) error
}

var corrections = []correction{
	// The send schemas (TextMessage, ContactsMessage, …) are an allOf of
	// BaseMessageProperties and a branch with additionalProperties: false.
	// additionalProperties only sees its own branch's properties, so that
	// branch refuses messaging_product, to and type, the base's own
	// fields: as published no text message is valid. Meta's intent,
	// closed objects, would be unevaluatedProperties; but Meta also takes
	// fields the description never declares (biz_opaque_callback_data), so
	// the rule is dropped rather than rewritten.
	{"send messages: additionalProperties beside BaseMessageProperties refuses the base's own fields", sendBaseOpen},
	// LanguageObject requires policy, yet Meta's own examples (and every
	// client library) send {"code": "en_US"} alone; "deterministic" is the
	// only policy and the default.
	{"template language: policy is optional", languagePolicyOptional},
	// The button index pattern ^[2-6, 11-14]$ is a character class that
	// refuses "0", "1" and "7"–"9", the very indexes Meta's examples use.
	// Meta takes the button's position, "0" to "9".
	{"template buttons: index is a position from \"0\" to \"9\"", buttonIndex},
	// The description merges several files whose schemas share names; the
	// copies were renamed (TextMessage_2, BaseMessageProperties_1, …) but
	// the webhook's inbound message schemas still point at the send
	// schemas of the original names, so an inbound message would need
	// "to" and "messaging_product". Point them at their own copies.
	{"inbound messages: refer to the webhook's own schemas, not the send schemas of the same name", inboundOwnSchemas},
	// v24.0: pricing carries type (regular, free_customer_service,
	// free_entry_point) beside billable, pricing_model and category, and
	// category takes the per-message pricing categories.
	{"v24.0 pricing: type, and the per-message categories", pricingV24},
	// v24.0: statuses no longer carry conversation.
	{"v24.0 statuses: no conversation", statusesWithoutConversation},
	// Business-scoped user ids (webhooks since 2026-04, any version): a
	// contact carries user_id, and a user who adopted a username may have
	// no wa_id; an inbound message then has from_user_id instead of from,
	// and a status recipient_user_id instead of recipient_id.
	{"business-scoped user ids: user_id beside or instead of wa_id, from and recipient_id", businessScopedUserIDs},
}

func applyCorrections(schemas map[string]any, skip string) error {
	for _, c := range corrections {
		if c.name == skip {
			continue
		}
		if err := c.apply(schemas); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// path walks objects by key and returns the object at the end.
func path(v any, keys ...string) (map[string]any, error) {
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", strings.Join(keys[:i], "."))
		}
		v = m[k]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", strings.Join(keys, "."))
	}
	return m, nil
}

// branches returns the object branches of schema's allOf.
func branches(schema map[string]any) []map[string]any {
	all, _ := schema["allOf"].([]any)
	var out []map[string]any
	for _, b := range all {
		if m, ok := b.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func ref(name string) string { return "#/components/schemas/" + name }

func sendBaseOpen(schemas map[string]any) error {
	msg, err := path(schemas, "Message")
	if err != nil {
		return err
	}
	alts, _ := msg["oneOf"].([]any)
	changed := 0
	for _, a := range alts {
		alt, _ := a.(map[string]any)
		r, _ := alt["$ref"].(string)
		s, err := path(schemas, strings.TrimPrefix(r, ref("")))
		if err != nil {
			return err
		}
		for _, b := range branches(s) {
			if b["additionalProperties"] == false {
				delete(b, "additionalProperties")
				changed++
			}
		}
	}
	if changed == 0 {
		return fmt.Errorf("no send schema closes its branch")
	}
	return nil
}

func languagePolicyOptional(schemas map[string]any) error {
	lang, err := path(schemas, "LanguageObject")
	if err != nil {
		return err
	}
	return dropRequired(lang, "policy")
}

func dropRequired(schema map[string]any, field string) error {
	req, _ := schema["required"].([]any)
	i := slices.Index(req, any(field))
	if i < 0 {
		return fmt.Errorf("%s is not required", field)
	}
	schema["required"] = slices.Delete(req, i, i+1)
	return nil
}

func buttonIndex(schemas map[string]any) error {
	base, err := path(schemas, "TemplateComponent", "properties", "index")
	if err != nil {
		return err
	}
	button, err := path(schemas, "ButtonComponent")
	if err != nil {
		return err
	}
	targets := []map[string]any{base}
	for _, b := range branches(button) {
		if idx, err := path(b, "properties", "index"); err == nil {
			targets = append(targets, idx)
		}
	}
	for _, t := range targets {
		if t["pattern"] != "^[2-6, 11-14]$" {
			return fmt.Errorf("index pattern is %v", t["pattern"])
		}
		t["pattern"] = "^[0-9]$"
	}
	return nil
}

// inboundRenames maps each send schema an inbound message schema wrongly
// refers to onto the webhook's own copy.
var inboundRenames = map[string]string{
	"BaseMessageProperties": "BaseMessageProperties_1",
	"TextMessage":           "TextMessage_2",
	"ReactionMessage":       "ReactionMessage_1",
	"AudioMessage":          "AudioMessage_1",
	"DocumentMessage":       "DocumentMessage_1",
	"ImageMessage":          "ImageMessage_1",
	"StickerMessage":        "StickerMessage_1",
	"VideoMessage":          "VideoMessage_1",
	"LocationMessage":       "LocationMessage_1",
	"ContactObject":         "ContactObject_1",
	"ErrorObject":           "ErrorObject_2",
}

// inboundSchemas are the webhook's inbound message schemas.
var inboundSchemas = []string{
	"IncomingMessage", "SystemMessage",
	"TextMessage_2", "ReactionMessage_1", "AudioMessage_1", "DocumentMessage_1", "ImageMessage_1",
	"StickerMessage_1", "VideoMessage_1", "LocationMessage_1",
	"ContactSharingMessage", "UnsupportedMessage", "ButtonMessage", "InteractiveMessageReply", "OrderMessage",
}

func inboundOwnSchemas(schemas map[string]any) error {
	for _, to := range inboundRenames {
		if _, err := path(schemas, to); err != nil {
			return err
		}
	}
	changed := 0
	for _, name := range inboundSchemas {
		s, err := path(schemas, name)
		if err != nil {
			return err
		}
		changed += renameRefs(s)
	}
	if changed == 0 {
		return fmt.Errorf("no inbound schema refers to a send schema")
	}
	return nil
}

// renameRefs rewrites, in v and below, every $ref and discriminator
// mapping that names a schema in inboundRenames, and counts them.
func renameRefs(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && (k == "$ref" || isMapping(v)) {
				if to, ok := inboundRenames[strings.TrimPrefix(s, ref(""))]; ok && strings.HasPrefix(s, ref("")) {
					v[k] = ref(to)
					n++
				}
				continue
			}
			n += renameRefs(e)
		}
	case []any:
		for _, e := range v {
			n += renameRefs(e)
		}
	}
	return n
}

// isMapping tells a discriminator's mapping (every value a reference)
// from other objects whose values are strings.
func isMapping(m map[string]any) bool {
	for _, e := range m {
		s, ok := e.(string)
		if !ok || !strings.HasPrefix(s, ref("")) {
			return false
		}
	}
	return len(m) > 0
}

func pricingV24(schemas map[string]any) error {
	p, err := path(schemas, "Pricing")
	if err != nil {
		return err
	}
	props, err := path(p, "properties")
	if err != nil {
		return err
	}
	if _, ok := props["type"]; ok {
		return fmt.Errorf("pricing already has type")
	}
	props["type"] = map[string]any{"type": "string", "enum": []any{"regular", "free_customer_service", "free_entry_point"}}
	props["category"] = map[string]any{"type": "string", "enum": []any{
		"authentication", "authentication_international", "marketing", "marketing_lite", "service", "utility"}}
	p["required"] = []any{"billable", "pricing_model", "category", "type"}
	return nil
}

func statusesWithoutConversation(schemas map[string]any) error {
	st, err := path(schemas, "Statuses")
	if err != nil {
		return err
	}
	st["not"] = map[string]any{"required": []any{"conversation"}}
	return nil
}

// oneOfRequired is a rule that one of the fields is present.
func oneOfRequired(fields ...string) map[string]any {
	var alts []any
	for _, f := range fields {
		alts = append(alts, map[string]any{"required": []any{f}})
	}
	return map[string]any{"anyOf": alts}
}

// requireOneOf replaces the required field of schema with a rule that it
// or other is present, declaring other as a string.
func requireOneOf(schema map[string]any, field, other string) error {
	if err := dropRequired(schema, field); err != nil {
		return err
	}
	props, err := path(schema, "properties")
	if err != nil {
		return err
	}
	props[other] = map[string]any{"type": "string"}
	schema["allOf"] = append(anySlice(schema["allOf"]), oneOfRequired(field, other))
	return nil
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func businessScopedUserIDs(schemas map[string]any) error {
	contact, err := path(schemas, "ContactProfile")
	if err != nil {
		return err
	}
	props, err := path(contact, "properties")
	if err != nil {
		return err
	}
	props["user_id"] = map[string]any{"type": "string"}
	contact["allOf"] = append(anySlice(contact["allOf"]), oneOfRequired("wa_id", "user_id"))

	inbound, err := path(schemas, "BaseMessageProperties_1")
	if err != nil {
		return err
	}
	if err := requireOneOf(inbound, "from", "from_user_id"); err != nil {
		return err
	}
	status, err := path(schemas, "Statuses")
	if err != nil {
		return err
	}
	return requireOneOf(status, "recipient_id", "recipient_user_id")
}
