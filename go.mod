module github.com/templategw/templategw

go 1.26.8
