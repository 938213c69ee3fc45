import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Owner-only: the database holds personal data and verification outcomes. */
const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;

/**
 * Creates a SQLite database file that only its owner can read, and the folders on its way when
 * they are missing, before SQLite opens it. SQLite would create the file 0644 under the usual
 * umask, readable by every user of the machine. Its `-wal` and `-shm` files need nothing of their
 * own: SQLite's unix VFS gives them the mode of the database file (test/store/sqlite-file-modes).
 *
 * The modes are set with chmod after creating, so they do not depend on the umask. An existing
 * file or folder is left as it is: its owner may have opened it to a group on purpose (a backup
 * job, a read-only reporting user), and a start-up that silently changed that would break them.
 * Files made 0644 by an older version are tightened by hand (SECURITY.md).
 */
export function createPrivateDatabaseFile(path: string): void {
  if (path === ':memory:' || path === '') return;
  const folder = resolve(dirname(path));
  const firstCreated = mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  if (firstCreated !== undefined) restrictCreatedFolders(folder, resolve(firstCreated));
  let fd: number;
  try {
    // O_EXCL: only a file this call creates; one that exists (or a symlink) is SQLite's to open.
    fd = openSync(path, 'wx', FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    fchmodSync(fd, FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/** chmods `folder` and its parents up to `firstCreated`: the folders mkdir just made. */
function restrictCreatedFolders(folder: string, firstCreated: string): void {
  let current = folder;
  // Bounded by the depth of the path: each step moves one folder up, and the root is its own parent.
  for (;;) {
    chmodSync(current, FOLDER_MODE);
    const parent = dirname(current);
    if (current === firstCreated || parent === current) return;
    current = parent;
  }
}
