// The suite's host names, for the test process: Chromium maps them to 127.0.0.1 with
// --host-resolver-rules (playwright.config.js); the requests the tests send themselves (galata's
// contents helpers, REST interrupts, Node's http) resolve them here the same way, so every
// request reaches the servers by the name a user would use, and none by 127.0.0.1.
const dns = require('dns');

const LOOPBACK = '127.0.0.1';
const HOSTS = ['hub.kaptain.test', 'kubeflow.kaptain.test'];

function notFound(hostname) {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (the suite maps it to ${LOOPBACK} over IPv4 only)`), {
    code: 'ENOTFOUND',
    hostname
  });
}

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (!HOSTS.includes(hostname)) {
    return lookup.apply(this, arguments);
  }
  if (typeof options === 'function') {
    callback = options;
    options = {};
  } else if (typeof options === 'number') {
    options = { family: options };
  }
  if (options && (options.family === 6 || options.family === 'IPv6')) {
    return process.nextTick(callback, notFound(hostname));
  }
  if (options && options.all) {
    return process.nextTick(callback, null, [{ address: LOOPBACK, family: 4 }]);
  }
  return process.nextTick(callback, null, LOOPBACK, 4);
};

const promisesLookup = dns.promises.lookup;
dns.promises.lookup = async function (hostname, options) {
  if (!HOSTS.includes(hostname)) {
    return promisesLookup.call(this, hostname, options);
  }
  const family = typeof options === 'number' ? options : options && options.family;
  if (family === 6 || family === 'IPv6') {
    throw notFound(hostname);
  }
  return options && options.all ? [{ address: LOOPBACK, family: 4 }] : { address: LOOPBACK, family: 4 };
};

/** Chromium's flag that maps the same names. */
const hostResolverRules = HOSTS.map(host => `MAP ${host} ${LOOPBACK}`).join(',');

module.exports = { HOSTS, hostResolverRules };
