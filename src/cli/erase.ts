import type { Logger } from '../core/logger.js';
import { SynchubError } from '../core/errors.js';
import { erasePerson, type ErasureRequest } from '../operations/erasure.js';
import { loadHubConfig, openHub } from '../runtime/process.js';

export const ERASE_USAGE = 'usage: synchub erase --email ADDRESS | --customer KEY [--dry-run] [--propagate] [--config FILE]';

/** `synchub erase`: the same erasure as POST /api/erasure; prints its record (no personal data). Exit 1 on a refused request or a target that refused the propagation. */
export async function eraseCommand(configArg: string | undefined, req: ErasureRequest, logger: Logger): Promise<number> {
  if (!req.email === !req.customer) {
    console.error(ERASE_USAGE);
    return 1;
  }
  const config = loadHubConfig(configArg);
  const { hub } = await openHub(config, logger, false);
  try {
    const record = await erasePerson(hub, { ...req, origin: 'cli' });
    const removed = Object.entries(record.removed).filter(([, n]) => n > 0).map(([what, n]) => `${what} ${n}`).join(', ');
    const verb = record.dryRun ? 'would remove' : 'removed';
    console.log(`erasure ${record.id}: ${record.status}${record.dryRun ? ' (dry run: nothing changed)' : ''}; ${removed ? `${verb} ${removed}` : 'nothing to remove'}`);
    console.log(JSON.stringify(record));
    return 0;
  } catch (err) {
    if (err instanceof SynchubError) {
      console.error(`erase: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await hub.close();
  }
}
