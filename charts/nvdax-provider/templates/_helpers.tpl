{{- define "nvdax-provider.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else if hasPrefix .Release.Name .Chart.Name -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nvdax-provider.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nvdax-provider.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: nvdax
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nvdax-provider.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "nvdax-provider.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped names carry the namespace: two releases of one name in two namespaces do not collide. */}}
{{- define "nvdax-provider.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "nvdax-provider.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nvdax-provider.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The ProviderPool this release offers, as the hub will hold it. */}}
{{- define "nvdax-provider.pool" -}}
apiVersion: nvdax.io/v1alpha1
kind: ProviderPool
metadata:
  name: {{ .Values.pool.name }}
  labels:
    app.kubernetes.io/part-of: nvdax
spec:
  provider:
    address: {{ .Values.pool.providerAddress | quote }}
    {{- with .Values.pool.displayName }}
    displayName: {{ . | quote }}
    {{- end }}
  region: {{ .Values.pool.region | quote }}
  jurisdiction: {{ .Values.pool.jurisdiction | quote }}
  cluster:
    mode: {{ .Values.pool.cluster.mode }}
    {{- if eq .Values.pool.cluster.mode "KubeconfigSecret" }}
    secretRef:
      name: {{ default .Values.pool.name .Values.pool.cluster.secretName }}
      key: kubeconfig
    {{- end }}
  {{- with .Values.pool.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  baseRates:
    {{- range .Values.pool.baseRates }}
    - gpuProduct: {{ .gpuProduct | quote }}
      mode: {{ default "Container" .mode }}
      pricePerGpuHour: {{ .pricePerGpuHour | quote }}
    {{- end }}
  tiers: {{ toJson .Values.pool.tiers }}
  {{- with .Values.pool.confidentialRuntimes }}
  confidentialRuntimes:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  development: {{ .Values.pool.development }}
  heartbeatTimeout: {{ .Values.pool.heartbeatTimeout }}
{{- end -}}
