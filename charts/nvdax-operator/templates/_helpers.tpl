{{/* The release's full name, cut to 63 characters (DNS-1123 label). */}}
{{- define "nvdax-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else if hasPrefix .Release.Name .Chart.Name -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nvdax-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nvdax-operator.labels" -}}
{{ include "nvdax-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: nvdax
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nvdax-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nvdax-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped names carry the namespace too: two releases of one name in two namespaces do not collide. */}}
{{- define "nvdax-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "nvdax-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nvdax-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The report intake's address for gateways: reports.advertiseAddress, else the Service's in-cluster name. */}}
{{- define "nvdax-operator.reportsAddress" -}}
{{- if .Values.reports.advertiseAddress -}}
{{- .Values.reports.advertiseAddress -}}
{{- else -}}
{{- printf "%s-reports.%s.svc:%v" (include "nvdax-operator.fullname" .) .Release.Namespace .Values.reports.port -}}
{{- end -}}
{{- end -}}

{{/* Checks what the schema cannot: the intake's port is not the ops port. */}}
{{- define "nvdax-operator.reportsCheck" -}}
{{- if eq (int .Values.reports.port) (int .Values.ops.port) -}}
{{- fail (printf "reports.port %v is ops.port's: the report intake needs a port of its own" .Values.reports.port) -}}
{{- end -}}
{{- end -}}
