import { promises as fs } from 'node:fs'

/**
 * Whether a folder sits on a file system on this machine's own disks, where a call that misses the
 * page cache waits for a seek, not for a network. Library folders are often on a NAS (NFS, SMB) or a
 * FUSE mount, where a call can hang for as long as the server is away: such calls must never run
 * synchronously on the event loop (SyncWhileFast only learns a call was slow once it returned).
 *
 * Linux's statfs magic numbers; anywhere else, and for any folder statfs cannot answer, "not local"
 * (the thread pool, as before).
 */
const REMOTE_OR_USERSPACE = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE (sshfs, rclone, cloud drives)
  0x01021997, // 9P (VM shares, WSL)
  0x00c36400, // Ceph
  0x5346414f, // AFS
  0x73757245, // Coda
  0x564c, // NCP
  0x47504653, // GPFS
  0x0bd00bd0, // Lustre
])

const known = new Map<string, Promise<boolean>>()

/** Cached per folder: a library has a few thousand at most. */
export function onLocalFileSystem(folder: string): Promise<boolean> {
  let answer = known.get(folder)
  if (answer === undefined) {
    answer =
      process.platform !== 'linux'
        ? Promise.resolve(false)
        : fs.statfs(folder).then(
            (stats) => !REMOTE_OR_USERSPACE.has(Number(stats.type) >>> 0),
            () => false,
          )
    known.set(folder, answer)
  }
  return answer
}
