export { Catalog } from './catalog.ts'
export {
  type BatchOp,
  LevelCatalogStore,
  type LevelStoreOptions,
  type RootLevel,
  StoreClosedError,
} from './persistence/level-store.ts'
export { decodeTrack, encodeTrack } from './record-codec.ts'
export * from './schema.ts'
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
