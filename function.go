// Package templategw registers templategw's Cloud Functions. Each deploys
// from this module root with FUNCTION_TARGET set to its name.
package templategw

import (
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/templategw/templategw/internal/app"
)

func init() {
	functions.HTTP("templates", app.TemplatesFunction)
	functions.HTTP("messages", app.MessagesFunction)
	functions.HTTP("cloudchat", app.CloudChatFunction)
	functions.HTTP("emkt", app.EmktFunction)
	functions.HTTP("wati", app.WatiFunction)
	functions.HTTP("whatsapp", app.WhatsAppFunction)
	functions.CloudEvent("dispatch", app.DispatchFunction)
	functions.CloudEvent("fanout", app.FanoutFunction)
	functions.CloudEvent("sweep", app.SweepFunction)
	functions.CloudEvent("callbacks", app.CallbacksFunction)
}
