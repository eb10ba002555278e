// Points the platform's fixed hosts at a test server, at run time, for SDKs that offer no option for it.
// install(base) replaces the functions `https.request` and `https.get` of Node's `https` module (the module
// object in memory; nothing on disk): a request to one of PLATFORM_HOSTS goes to `base` (http://HOST:PORT)
// over plain HTTP instead, with the same method, path, query, headers and body; any other request goes to
// the original function unchanged. axios (and follow-redirects) look `https.request` up at each request, so
// SDKs built on them follow. WebSocket URLs are not touched: every SDK here takes its gateway URL from the
// server's GET /gateway or /gateway/bot answer.
//
// As a preload: QQ_SDK_BASE=http://127.0.0.1:PORT node -r ./redirect_hosts.cjs app.js
"use strict";
const http = require("http");
const https = require("https");

const PLATFORM_HOSTS = new Set(["api.sgroup.qq.com", "sandbox.api.sgroup.qq.com", "bots.qq.com", "api.bot.qq.com"]);

function install(base) {
  if (https.request.redirectedTo) {
    if (https.request.redirectedTo !== base) throw new Error(`redirect_hosts: already redirected to ${https.request.redirectedTo}`);
    return;
  }
  const target = new URL(base);
  if (target.protocol !== "http:") throw new Error(`redirect_hosts: ${base} is not an http:// URL`);
  const originalRequest = https.request;

  // https.request(url?, options?, callback?) in any of its forms -> [options, callback] for http.request.
  function redirectArgs(args) {
    let url = null;
    let options = {};
    let callback;
    for (const arg of args) {
      if (typeof arg === "string" || arg instanceof URL) url = new URL(arg);
      else if (typeof arg === "function") callback = arg;
      else if (arg && typeof arg === "object") options = arg;
    }
    const host = (url ? url.hostname : options.hostname || (options.host || "").replace(/:\d+$/, "")) || "";
    if (!PLATFORM_HOSTS.has(host)) return null;
    const path = url ? url.pathname + url.search : options.path || "/";
    const redirected = { ...options, protocol: "http:", hostname: target.hostname, port: target.port || 80, path };
    delete redirected.host;
    delete redirected.agent; // an https.Agent cannot carry a plain-HTTP request
    delete redirected.servername;
    redirected.headers = { ...(options.headers || {}), host: target.host };
    return [redirected, callback];
  }

  https.request = function request(...args) {
    const redirected = redirectArgs(args);
    return redirected ? http.request(...redirected) : originalRequest.apply(this, args);
  };
  https.request.redirectedTo = base;
  https.get = function get(...args) {
    const req = https.request(...args);
    req.end();
    return req;
  };
}

if (process.env.QQ_SDK_BASE) {
  install(process.env.QQ_SDK_BASE);
}

module.exports = { install, PLATFORM_HOSTS };
