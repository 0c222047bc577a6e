// Runs autocannon in its own process (so the load generator does not share the event loop
// it measures) with options from argv[2] as JSON; prints autocannon's result as JSON.
import { createHmac, randomUUID } from 'node:crypto';
import autocannon from 'autocannon';

const { sign, ...opts } = JSON.parse(process.argv[2]);
// With `sign: { secret, header }`, each request's body gets its own id in place of `[<id>]`
// (in the body and in the headers) and is signed with HMAC-SHA256 (base64) into `header`:
// distinct events have distinct signed bodies, as the hub dedupes on the body's hash too.
const requests = sign
  ? [{
      setupRequest(req) {
        const id = randomUUID();
        const body = opts.body.replaceAll('[<id>]', id);
        const headers = Object.fromEntries(Object.entries(opts.headers).map(([k, v]) => [k, v.replaceAll('[<id>]', id)]));
        headers[sign.header] = createHmac('sha256', sign.secret).update(body).digest('base64');
        return { ...req, body, headers };
      },
    }]
  : undefined;
autocannon({ ...opts, ...(requests ? { requests } : { idReplacement: true }) }, (err, result) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
});
