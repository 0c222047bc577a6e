// Runs autocannon in its own process (so the load generator does not share the event loop
// it measures) with options from argv[2] as JSON; prints autocannon's result as JSON.
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2]);
autocannon({ ...opts, idReplacement: true }, (err, result) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
});
