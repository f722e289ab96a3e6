// Loading a KubeConfig the way kubectl does, at call time (never at import time).
import { KubeConfig } from '@kubernetes/client-node';

/** Loads `path` (or the default rules: $KUBECONFIG, ~/.kube/config, in-cluster when empty) and selects `context` if given. */
export function loadKubeConfig(path = '', context = ''): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (context) {
    if (!kc.getContextObject(context)) throw new Error(`kubeconfig has no context named "${context}"`);
    kc.setCurrentContext(context);
  }
  return kc;
}
