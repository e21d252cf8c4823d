// Command tfprovider is a minimal Terraform provider built with
// terraform-plugin-framework, the way the provider scaffolding builds one:
// a data source hello_greeting (name in, message out; an empty name is an
// error diagnostic) and a resource hello_item (value in, id out).
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type helloProvider struct{}

func (helloProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "hello"
	resp.Version = "1.0.0"
}

func (helloProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (helloProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (helloProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{func() datasource.DataSource { return greeting{} }}
}

func (helloProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return item{} }}
}

type greeting struct{}

type greetingModel struct {
	Name    types.String `tfsdk:"name"`
	Times   types.Number `tfsdk:"times"`
	Message types.String `tfsdk:"message"`
}

func (greeting) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_greeting"
}

func (greeting) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dschema.Schema{Attributes: map[string]dschema.Attribute{
		"name":    dschema.StringAttribute{Required: true, Description: "who to greet"},
		"times":   dschema.NumberAttribute{Optional: true, Description: "echoed back"},
		"message": dschema.StringAttribute{Computed: true},
	}}
}

func (greeting) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m greetingModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if !m.Name.IsUnknown() && !m.Name.IsNull() && m.Name.ValueString() == "" {
		resp.Diagnostics.AddError("Invalid name", "name must not be empty")
	}
}

func (greeting) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m greetingModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Name.ValueString() == "" {
		resp.Diagnostics.AddError("Invalid name", "name must not be empty")
		return
	}
	m.Message = types.StringValue("Hello, " + m.Name.ValueString() + "!")
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type item struct{}

type itemModel struct {
	ID    types.String `tfsdk:"id"`
	Value types.String `tfsdk:"value"`
	Tags  types.List   `tfsdk:"tags"`
}

func (item) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_item"
}

func (item) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{Attributes: map[string]rschema.Attribute{
		"id":    rschema.StringAttribute{Computed: true},
		"value": rschema.StringAttribute{Required: true},
		"tags":  rschema.ListAttribute{Optional: true, ElementType: types.StringType},
	}}
}

func (item) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m itemModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue("item-" + m.Value.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (item) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m itemModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (item) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m itemModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue("item-" + m.Value.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (item) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

func main() {
	err := providerserver.Serve(context.Background(), func() provider.Provider { return helloProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/example/hello"})
	if err != nil {
		log.Fatal(err)
	}
}
