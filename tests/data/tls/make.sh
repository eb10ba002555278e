#!/bin/sh
# Regenerates the test certificates (valid for 100 years): a CA and the server certificate it signed for
# localhost and 127.0.0.1; another CA and a server certificate it signed for the same names, which a client
# trusting only the first CA must refuse. Used by the TLS client's unit tests.
set -eu
cd "$(dirname "$0")"
days=36500
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
for prefix in "" other-; do
  openssl req -x509 $ec -keyout ${prefix}ca.key -out ${prefix}ca.pem -days $days -subj /CN=qq-gateway-relay-${prefix}test-ca
  openssl req $ec -keyout ${prefix}server.key -out server.csr -subj /CN=localhost
  openssl x509 -req -in server.csr -CA ${prefix}ca.pem -CAkey ${prefix}ca.key -CAcreateserial \
    -out ${prefix}server.pem -days $days -extfile server.ext
done
rm -f server.csr server.ext ca.srl other-ca.srl ca.key other-ca.key other-ca.pem
