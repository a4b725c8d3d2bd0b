#!/usr/bin/env bash
# omps-manifests.sh — write operator manifests for omps (tests, `make run`, benchmarks), in the
# two layouts of reference/omps.md §F.1, valid for operator-courier 2.1.10:
#
#   omps-manifests.sh flat DIR [PACKAGE]     crd.yml, csv.yaml, packages.yaml (packageName
#                                            PACKAGE, default marketplace)
#   omps-manifests.sh nested DIR [PACKAGE]   PACKAGE.package.yaml (default etcd), 0.6.1/ and
#                                            0.9.2/ with a CRD and a CSV each, and an art.yaml
#                                            that courier leaves out of the bundle
#
# The CSVs name images on quay.io (for replace_registry) and carry the usual annotations.
set -euo pipefail

[ "$#" -ge 2 ] || {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
layout=$1 dir=$2
mkdir -p "$dir"

crd() { # PLURAL KIND GROUP
    cat <<EOF
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: $1.$3
spec:
  group: $3
  names:
    kind: $2
    plural: $1
  version: v1
  versions:
  - name: v1
    served: true
    storage: true
EOF
}

csv() { # NAME VERSION PLURAL KIND GROUP
    cat <<EOF
apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: $1
  annotations:
    categories: OpenShift Optional
    description: A demo operator
    containerImage: quay.io/quayside/demo-operator:v$2
    createdAt: "2019-01-01T00:00:00Z"
    support: quayside
    certified: "false"
    alm-examples: '[{"apiVersion": "$5/v1", "kind": "$4"}]'
spec:
  displayName: Demo operator
  description: |
    A demo operator.
    Second line.
  icon: []
  version: $2
  provider:
    name: quayside
  maturity: alpha
  installModes:
  - type: OwnNamespace
    supported: true
  install:
    strategy: deployment
    spec:
      deployments:
      - name: demo-operator
        spec:
          template:
            spec:
              containers:
              - name: operator
                image: quay.io/quayside/demo-operator:v$2
      permissions: []
      clusterPermissions: []
  customresourcedefinitions:
    owned:
    - name: $3.$5
      kind: $4
      version: v1
EOF
}

case $layout in
flat)
    pkg=${3:-marketplace}
    crd operatorsources OperatorSource operators.coreos.com >"$dir/crd.yml"
    csv "$pkg-operator.v0.0.1" 0.0.1 operatorsources OperatorSource operators.coreos.com \
        >"$dir/csv.yaml"
    printf 'packageName: %s\nchannels:\n- name: alpha\n  currentCSV: %s-operator.v0.0.1\n' \
        "$pkg" "$pkg" >"$dir/packages.yaml"
    ;;
nested)
    pkg=${3:-etcd}
    printf '#! package-manifest: ./deploy/%s.package.yaml\npackageName: %s\nchannels:\n- name: alpha\n  currentCSV: %soperator.v0.9.2\n' \
        "$pkg" "$pkg" "$pkg" >"$dir/$pkg.package.yaml"
    for v in 0.6.1 0.9.2; do
        mkdir -p "$dir/$v"
        crd "${pkg}clusters" EtcdCluster etcd.database.coreos.com >"$dir/$v/${pkg}cluster.crd.yaml"
        csv "${pkg}operator.v$v" "$v" "${pkg}clusters" EtcdCluster etcd.database.coreos.com \
            >"$dir/$v/${pkg}operator.v$v.clusterserviceversion.yaml"
    done
    printf 'product: demo\n' >"$dir/art.yaml"
    ;;
*)
    echo "omps-manifests.sh: layout must be flat or nested" >&2
    exit 2
    ;;
esac
