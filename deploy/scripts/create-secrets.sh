#!/usr/bin/env bash
# Creates the Secrets the prod overlay expects, with random passwords. A Secret that
# already exists is kept (rotating one means: change it, then re-run the mongodb-init
# Job so the user's password follows, then restart the service).
#
#   deploy/scripts/create-secrets.sh [NAMESPACE] [MONGODB_MEMBERS]
#
# NAMESPACE defaults to quorum; MONGODB_MEMBERS to the prod overlay's three members.
set -euo pipefail

namespace=${1:-quorum}
members=${2:-mongodb-0.mongodb:27017,mongodb-1.mongodb:27017,mongodb-2.mongodb:27017}

# Letters and digits only: the password goes into a URI unescaped.
random_password() { openssl rand -base64 64 | tr -dc 'A-Za-z0-9' | cut -c1-40; }

create() {
  local name=$1
  shift
  if kubectl --namespace "$namespace" get secret "$name" >/dev/null 2>&1; then
    echo "secret/$name exists, kept"
    return
  fi
  local literals=()
  for pair in "$@"; do literals+=("--from-literal=$pair"); done
  kubectl --namespace "$namespace" create secret generic "$name" "${literals[@]}"
}

kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"

create quorum-mongodb-root username=root "password=$(random_password)"
# The replica set members authenticate to each other with this key.
create quorum-mongodb-keyfile "keyfile=$(openssl rand -base64 756 | tr -d '\n')"
for service in gateway ideas validation notifications; do
  password=$(random_password)
  create "quorum-$service-mongodb" \
    "password=$password" \
    "uri=mongodb://quorum-$service:$password@$members/?replicaSet=rs0&authSource=admin"
done
# Fernet keys (32 random bytes, url-safe base64) that encrypt the inbound endpoints' and
# the webhooks' signing secrets in MongoDB. Rotating one: put the new key first and the
# old one after it, comma separated, restart; drop the old one once nothing uses it.
fernet_key() { openssl rand -base64 32 | tr '+/' '-_'; }
create quorum-gateway-secrets "secrets-key=$(fernet_key)"
create quorum-notifications-secrets "secrets-key=$(fernet_key)"
# Optional, for e-mail: NOTIFICATIONS_SMTP_* variables (host, port, credentials).
#   kubectl -n "$namespace" create secret generic quorum-notifications-smtp \
#     --from-literal=NOTIFICATIONS_SMTP_HOST=smtp.example.com ...
