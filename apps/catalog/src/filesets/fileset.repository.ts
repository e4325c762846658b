import { FILESET } from '@acai/contracts';
import { aggregateRepository } from '@acai/eventing';
import { filesetDecider } from '@acai/filesets';

/** The file set aggregates (the name is the id), cached and kept current by the catalog's consumer. */
export class FilesetRepository extends aggregateRepository(FILESET, filesetDecider) {}
