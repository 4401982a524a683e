{{/* The release's base name: the release name when it already contains the chart name. */}}
{{- define "kaos-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kaos-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object names; the troubleshooting guide refers to the first three by name. */}}
{{- define "kaos-operator.controllerName" -}}{{ include "kaos-operator.fullname" . }}-controller-manager{{- end -}}
{{- define "kaos-operator.configName" -}}{{ include "kaos-operator.fullname" . }}-config{{- end -}}
{{- define "kaos-operator.controllerClusterRole" -}}{{ include "kaos-operator.fullname" . }}-kaos-operator{{- end -}}
{{- define "kaos-operator.webhookName" -}}{{ include "kaos-operator.fullname" . }}-webhook{{- end -}}
{{- define "kaos-operator.webhookSecret" -}}{{ include "kaos-operator.fullname" . }}-webhook-tls{{- end -}}
{{- define "kaos-operator.leaseName" -}}{{ include "kaos-operator.fullname" . }}-controller-leader{{- end -}}

{{- define "kaos-operator.gatewayNamespace" -}}
{{- default .Release.Namespace .Values.gatewayAPI.gatewayNamespace -}}
{{- end -}}

{{- define "kaos-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kaos-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kaos
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "webhook"). */}}
{{- define "kaos-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kaos-operator.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kaos-operator.componentLabels" -}}
{{ include "kaos-operator.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference of one component: (dict "root" $ "image" .Values.webhook.image). */}}
{{- define "kaos-operator.image" -}}
{{- $reference := printf "%s/%s" .root.Values.image.registry .image.repository -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $reference .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $reference (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Checksum of the routing configuration, so a changed ConfigMap rolls both Deployments. */}}
{{- define "kaos-operator.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum -}}
{{- end -}}

{{/* Pod and container security shared by both apps (restricted Pod Security Standard). */}}
{{- define "kaos-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kaos-operator.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Render-time checks whose messages a user can act on (the schema cannot express them). */}}
{{- define "kaos-operator.validate" -}}
{{- if and .Values.gatewayAPI.createGateway (not .Values.gatewayAPI.gatewayClassName) -}}
{{- fail "gatewayAPI.gatewayClassName is required when gatewayAPI.createGateway is true (e.g. --set gatewayAPI.gatewayClassName=envoy-gateway)" -}}
{{- end -}}
{{- if and .Values.gatewayAPI.createGateway (not .Values.gatewayAPI.enabled) -}}
{{- fail "gatewayAPI.createGateway=true needs gatewayAPI.enabled=true: a Gateway without routes serves nothing" -}}
{{- end -}}
{{- if and .Values.certManager.enabled .Values.localMode.enabled -}}
{{- fail "certManager.enabled and localMode.enabled cannot be combined: local processes generate their own certificates" -}}
{{- end -}}
{{- end -}}
