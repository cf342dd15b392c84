export { Catalog, CatalogSchemaError } from './catalog.ts'
export {
  type BatchOp,
  LevelCatalogStore,
  type LevelStoreOptions,
  type RootLevel,
  StoreClosedError,
} from './persistence/level-store.ts'
export * from './schema.ts'
export {
  decodeFolder,
  decodeTrackEntry,
  encodeFolder,
  encodeTrackEntry,
  type TrackEntry,
  trackDefaults,
} from './track-codec.ts'
export {
  applyEdits,
  checkEditValue,
  EDITABLE_FIELDS,
  type EditableField,
  editKey,
  InvalidUserDataError,
  isEditableField,
  MAX_RATING,
  PlaylistNotFoundError,
  PlaylistPositionError,
  type PlaylistRecord,
  playKey,
  type TrackEdits,
  UserData,
} from './user-data.ts'
export * from './views.ts'
