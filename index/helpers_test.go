package index

import "github.com/plugctl/plugctl/store"

func storeProto() store.Protocol { return store.Protocol{} }
