// metav1 object metadata, written once: the API's generated types and the Kubernetes
// adapter both use these shapes (client-node's V1ObjectMeta is assignable to ObjectMeta).

/** An owner reference as in metav1.OwnerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The part of metav1.ObjectMeta the operator reads (timestamps may be strings or Dates). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  managedFields?: unknown[];
}

/** metav1.ListMeta. */
export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}
