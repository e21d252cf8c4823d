// Command vaultkv is a minimal Vault secrets engine built with vault/sdk and
// served with plugin.ServeMultiplex, the way Vault's plugin scaffolding
// serves one. It keeps values in the storage Vault (or cmd/vaulthost, a
// stand-in for Vault's storage and system view) serves back to it on
// go-plugin's broker after Setup:
//
//	kv/NAME   create, update: store the field "value"; read; delete
//	kv/       list: the names stored
//	info      read: the mount's lease TTLs, from the system view
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

const prefix = "kv/"

// Factory is the backend factory that Setup calls with the storage and
// system view it dialled on the broker.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := &framework.Backend{}
	*b = framework.Backend{
		Help:        "Stores values under kv/NAME and reports the mount's lease TTLs under info.",
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			// Values are secrets: seal-wrap them where the seal can.
			SealWrapStorage: []string{prefix},
		},
		Paths: []*framework.Path{
			{
				Pattern: prefix + "?$",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ListOperation: &framework.PathOperation{Callback: list},
				},
			},
			{
				Pattern: prefix + framework.GenericNameRegex("name"),
				Fields: map[string]*framework.FieldSchema{
					"name":  {Type: framework.TypeString, Description: "Name of the value."},
					"value": {Type: framework.TypeString, Description: "The value to store."},
				},
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.CreateOperation: &framework.PathOperation{Callback: write},
					logical.UpdateOperation: &framework.PathOperation{Callback: write},
					logical.ReadOperation:   &framework.PathOperation{Callback: read},
					logical.DeleteOperation: &framework.PathOperation{Callback: remove},
				},
				ExistenceCheck: exists,
			},
			{
				Pattern: "info",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ReadOperation: &framework.PathOperation{Callback: info(b)},
				},
			},
		},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

// exists tells Vault's router whether a write to kv/NAME creates or
// updates; the framework requires it of a path with a create operation.
func exists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	e, err := req.Storage.Get(ctx, prefix+d.Get("name").(string))
	return e != nil, err
}

func write(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	v, ok := d.GetOk("value")
	if !ok {
		return logical.ErrorResponse("value is required"), logical.ErrInvalidRequest
	}
	err := req.Storage.Put(ctx, &logical.StorageEntry{Key: prefix + d.Get("name").(string), Value: []byte(v.(string))})
	return nil, err
}

func read(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	e, err := req.Storage.Get(ctx, prefix+name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, logical.CodedError(404, fmt.Sprintf("no value named %q", name))
	}
	return &logical.Response{Data: map[string]any{"value": string(e.Value)}}, nil
}

func remove(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, req.Storage.Delete(ctx, prefix+d.Get("name").(string))
}

func list(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return logical.ListResponse(keys), nil
}

// info answers from b's system view, which Vault (here cmd/vaulthost)
// serves on the broker: each getter is a gRPC call back to the host.
func info(b *framework.Backend) framework.OperationFunc {
	return func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
		sys := b.System()
		return &logical.Response{Data: map[string]any{
			"default_lease_ttl": int64(sys.DefaultLeaseTTL().Seconds()),
			"max_lease_ttl":     int64(sys.MaxLeaseTTL().Seconds()),
		}}, nil
	}
}

func main() {
	if err := plugin.ServeMultiplex(&plugin.ServeOpts{BackendFactoryFunc: Factory}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
