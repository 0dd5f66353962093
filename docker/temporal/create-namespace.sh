#!/bin/sh
# Registers the namespace the ptpass worker uses (an existing one is left as it is).
# Run once by the temporal-create-namespace service (image temporalio/admin-tools) when the server is up.
set -eu
namespace=${DEFAULT_NAMESPACE:-default}
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do sleep 2; done
temporal operator namespace describe -n "$namespace" --address "$TEMPORAL_ADDRESS" \
  || temporal operator namespace create -n "$namespace" --retention 30d --address "$TEMPORAL_ADDRESS"
