module github.com/inferencekey/inferencekey-sdk/benches/go

go 1.26.0

require (
	github.com/inferencekey/inferencekey-sdk/go v1.0.0
	github.com/openai/openai-go/v3 v3.102.0
)

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)

replace github.com/inferencekey/inferencekey-sdk/go => ../../go
