import type { Access } from '../auth/access.js';
import { Routes, type RouteSpec } from '../http/routes.js';

/** A route callers need a key for: every route gRPC serves. */
export type Guarded = RouteSpec & { readonly auth: Exclude<Access, 'public'> };

/**
 * Each gRPC method of acai.v1 and the REST route whose operation it is: the key check uses the
 * route's scope, and a unary method's answer is the route's success body (its zod schema) mapped
 * to the method's message (`messages.ts`). `messages.spec.ts` checks, for each of them, that the
 * message has a field for every field of that schema.
 */
export const GRPC_METHODS = {
  'acai.v1.Filesets': {
    CreateFileset: Routes.createFileset,
    SearchFilesets: Routes.searchFilesets,
    GetFileset: Routes.getFileset,
    CommitVersion: Routes.commitVersion,
    GetVersion: Routes.getVersion,
    ListFiles: Routes.listFiles,
    DiffVersions: Routes.diffVersions,
    ChangeMetadata: Routes.changeMetadata,
    ChangeLabels: Routes.changeLabels,
    SearchVersions: Routes.searchVersions,
    UploadBlob: Routes.uploadBlobHashed,
    DownloadFile: Routes.getFile,
  },
  'acai.v1.Runs': {
    SubmitRun: Routes.submitRun,
    PlanRun: Routes.planRun,
    ListRuns: Routes.listRuns,
    GetRun: Routes.getRun,
    CancelRun: Routes.cancelRun,
    GetRunTrials: Routes.getRunTrials,
    GetRunTimeline: Routes.getRunTimeline,
  },
  'acai.v1.Jobs': {
    GetJob: Routes.getJob,
    GetJobHistory: Routes.getJobHistory,
    ExplainReuse: Routes.explainReuse,
    StreamLogs: Routes.getJobLogs,
    StreamMetrics: Routes.getJobMetrics,
  },
  'acai.v1.Lineage': {
    GetLineage: Routes.getLineage,
    GetImpact: Routes.getImpact,
    GetExperimentGraph: Routes.getExperimentGraph,
  },
  'acai.v1.Resources': {
    ListNodes: Routes.listNodes,
    PlanProvisioning: Routes.planProvisioning,
  },
  'acai.v1.Projects': {
    CreateKey: Routes.createKey,
    ListKeys: Routes.listKeys,
    RevokeKey: Routes.revokeKey,
    GetStorageBudget: Routes.getStorageBudget,
    SetStorageBudget: Routes.setStorageBudget,
  },
} as const satisfies Record<string, Record<string, Guarded>>;

export type GrpcService = keyof typeof GRPC_METHODS;
