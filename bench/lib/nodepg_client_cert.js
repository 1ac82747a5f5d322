// Loaded with `node --require` by bench/driver_suites.sh (node-postgres, proxy target):
// presents the client certificate NODEPG_SSLCERT / NODEPG_SSLKEY on every TLS
// connection the process opens that names none itself. node-postgres 8.16 reads no
// PGSSLCERT; setting pg.defaults.ssl instead would change what the suite's own
// configuration tests see.
'use strict'
const tls = require('tls')
const fs = require('fs')

if (process.env.NODEPG_SSLCERT) {
  const cert = fs.readFileSync(process.env.NODEPG_SSLCERT)
  const key = fs.readFileSync(process.env.NODEPG_SSLKEY)
  const connect = tls.connect
  tls.connect = function (...args) {
    const options = args.find((a) => a && typeof a === 'object')
    if (options && !options.cert) {
      options.cert = cert
      options.key = key
    }
    return connect.apply(this, args)
  }
}
