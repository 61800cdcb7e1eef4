module acme/eventrelay

go 1.22

require (
	github.com/prometheus/client_golang v1.19.1
	github.com/nats-io/nats.go v1.35.0
)
