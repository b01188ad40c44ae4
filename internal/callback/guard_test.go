package callback_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/callback"
)

func TestCheckURL(t *testing.T) {
	strict := callback.Options{}
	dev := callback.Options{AllowLoopback: true}
	lan := callback.Options{AllowPrivate: true}
	tests := []struct {
		url  string
		opt  callback.Options
		want error
	}{
		{"https://hooks.example.com/templategw?key=abc", strict, nil},
		{"http://hooks.example.com:8080/x", strict, nil},
		{"HTTPS://Hooks.Example.com/", strict, nil},
		{"https://8.8.8.8/hook", strict, nil},
		{"https://[2001:4860:4860::8888]/hook", strict, nil},

		{"", strict, callback.ErrInvalidURL},
		{"hooks.example.com/x", strict, callback.ErrInvalidURL},
		{"/relative", strict, callback.ErrInvalidURL},
		{"ftp://hooks.example.com/", strict, callback.ErrInvalidURL},
		{"javascript:alert(1)", strict, callback.ErrInvalidURL},
		{"https:opaque", strict, callback.ErrInvalidURL},
		{"https://", strict, callback.ErrInvalidURL},
		{"https://:443/x", strict, callback.ErrInvalidURL},
		{"https://user:pass@hooks.example.com/", strict, callback.ErrInvalidURL},
		{"https://user@hooks.example.com/", strict, callback.ErrInvalidURL},
		{"https://hooks.example.com/%zz", strict, callback.ErrInvalidURL},
		{"https://hooks.example.com/" + strings.Repeat("a", 2100), strict, callback.ErrInvalidURL},

		{"http://127.0.0.1:8080/hook", strict, callback.ErrRefused},
		{"http://127.9.9.9/hook", strict, callback.ErrRefused},
		{"http://[::1]/hook", strict, callback.ErrRefused},
		{"http://[::ffff:127.0.0.1]/hook", strict, callback.ErrRefused},
		{"http://localhost:8080/hook", strict, callback.ErrRefused},
		{"http://LOCALHOST./hook", strict, callback.ErrRefused},
		{"http://api.localhost/hook", strict, callback.ErrRefused},
		{"http://10.1.2.3/hook", strict, callback.ErrRefused},
		{"http://172.16.0.1/hook", strict, callback.ErrRefused},
		{"http://172.31.255.255/hook", strict, callback.ErrRefused},
		{"http://192.168.1.10/hook", strict, callback.ErrRefused},
		{"http://100.64.0.1/hook", strict, callback.ErrRefused},
		{"http://169.254.169.254/computeMetadata/v1/", strict, callback.ErrRefused},
		{"http://[fe80::1%25eth0]/hook", strict, callback.ErrRefused},
		{"http://[fc00::1]/hook", strict, callback.ErrRefused},
		{"http://[fd12:3456::1]/hook", strict, callback.ErrRefused},
		{"http://0.0.0.0/hook", strict, callback.ErrRefused},
		{"http://[::]/hook", strict, callback.ErrRefused},
		{"http://224.0.0.1/hook", strict, callback.ErrRefused},
		{"http://255.255.255.255/hook", strict, callback.ErrRefused},
		{"http://[64:ff9b::a00:1]/hook", strict, callback.ErrRefused}, // NAT64 of 10.0.0.1
		{"http://172.32.0.1/hook", strict, nil},                       // just outside 172.16/12
		{"http://100.128.0.1/hook", strict, nil},                      // just outside 100.64/10

		{"http://127.0.0.1:8080/hook", dev, nil},
		{"http://localhost:8080/hook", dev, nil},
		{"http://[::1]/hook", dev, nil},
		{"http://10.1.2.3/hook", dev, callback.ErrRefused},
		{"http://10.1.2.3/hook", lan, nil},
		{"http://169.254.169.254/", lan, callback.ErrRefused}, // never opened: the metadata server
		{"http://[fe80::1%25eth0]/hook", lan, callback.ErrRefused},
		{"http://[::a9fe:a9fe]/", lan, callback.ErrRefused},
		{"http://2852039166/", lan, callback.ErrInvalidURL},
		{"http://127.0.0.1/hook", lan, callback.ErrRefused},
	}
	for _, tt := range tests {
		err := callback.CheckURL(tt.url, tt.opt)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("CheckURL(%.60q, %+v) = %v, want %v", tt.url, tt.opt, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "pass") {
			t.Errorf("CheckURL error repeats the URL: %v", err)
		}
	}
}
