'use strict';
/**
 * autocannon `verifyBody` (loaded with require() in autocannon's worker thread): a
 * response counts as good only when it carries data and no GraphQL error, since a
 * refused or failed query still answers HTTP 200.
 */
module.exports = function verifyBody(body) {
  return typeof body === 'string' && body.startsWith('{"data":{"dashboard":{') && !body.includes('"errors":');
};
