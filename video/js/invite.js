// The invite exchange (a guest's link token for a short-lived meeting token): the video page's own
// HTTP call; everything GraphQL is in the shared client (/app/lib/gql.js).
import { Problem } from '/app/lib/gql.js';

/** POST /auth/invite: the invite token for a meeting token; a Problem with the refusal's code. */
export async function exchangeInvite(token) {
  let response;
  try {
    response = await fetch('/auth/invite', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new Problem('NETWORK');
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the code below says what happened
  }
  if (!response.ok) throw new Problem(body.code || (response.status >= 500 ? 'NETWORK' : 'UNKNOWN'), body.message);
  return body;
}
