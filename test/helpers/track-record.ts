import { type TrackRecord, trackDefaults } from '../../src/crdt/index.ts'

/** A scanned track's record for tests: what every test names, the rest empty (as for untagged audio). */
export function trackRecord(
  fields: Pick<TrackRecord, 'contentId' | 'size' | 'title' | 'addedAt'> & Partial<TrackRecord>,
): TrackRecord {
  return { ...trackDefaults(), ...fields }
}
